from django.urls import path

from orders import views

urlpatterns = [
    path("account", views.CurrentAccountView.as_view(), name="account"),
    path("accounts/", views.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>", views.AccountDetailView.as_view(), name="account-detail"),
]
