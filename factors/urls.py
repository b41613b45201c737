from django.urls import path

from factors import views

urlpatterns = [
    path("signals/latest", views.SignalsLatestView.as_view(), name="signals-latest"),
    path("signals/run", views.SignalsRunView.as_view(), name="signals-run"),
    path("factors", views.FactorListView.as_view(), name="factor-list"),
    path("factors/<str:symbol>", views.FactorSeriesView.as_view(), name="factor-series"),
]
