from django.urls import path

from marketdata import views

urlpatterns = [
    path("quotes", views.QuoteInjectView.as_view(), name="quote-inject"),
    path("quotes/<str:symbol>", views.QuoteDetailView.as_view(), name="quote-detail"),
]
