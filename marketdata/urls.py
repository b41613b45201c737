from django.urls import path

from marketdata import views

urlpatterns = [
    path("quotes", views.QuotesView.as_view(), name="quotes"),
    path("quotes/<str:symbol>", views.QuoteDetailView.as_view(), name="quote-detail"),
]
