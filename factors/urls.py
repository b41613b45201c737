from django.urls import path

from factors import views

urlpatterns = [
    path("signals/latest", views.SignalsLatestView.as_view(), name="signals-latest"),
    path("signals/run", views.SignalsRunView.as_view(), name="signals-run"),
    path("signals/weights", views.SignalWeightsView.as_view(), name="signals-weights"),
    path("factors", views.FactorListView.as_view(), name="factor-list"),
    path("factors/<str:symbol>", views.FactorSeriesView.as_view(), name="factor-series"),
]
