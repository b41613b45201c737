from django.urls import path

from orders import views

urlpatterns = [
    path("account", views.CurrentAccountView.as_view(), name="account"),
    path("accounts/", views.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>", views.AccountDetailView.as_view(), name="account-detail"),
    path("orders/submit", views.OrderSubmitView.as_view(), name="order-submit"),
    path("orders/preview", views.OrderPreviewView.as_view(), name="order-preview"),
    path("orders/history", views.OrderHistoryView.as_view(), name="order-history"),
    path("orders/open", views.OpenOrdersView.as_view(), name="order-open"),
    path("orders/import-fills", views.FillsImportView.as_view(), name="order-import-fills"),
    path("orders/<int:pk>/status", views.OrderStatusView.as_view(), name="order-status"),
    path("orders/<int:pk>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("positions", views.PositionsView.as_view(), name="positions"),
    path("broker/reconciliation", views.BrokerReconciliationView.as_view(), name="broker-reconciliation"),
    path("exposure", views.ExposureView.as_view(), name="exposure"),
    path("market/session", views.MarketSessionView.as_view(), name="market-session"),
    path("plans/", views.PlanListCreateView.as_view(), name="plan-list"),
    path("plans/<int:pk>", views.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<int:pk>/execute", views.PlanExecuteView.as_view(), name="plan-execute"),
    path("approvals/", views.ApprovalListView.as_view(), name="approval-list"),
    path("approvals/<int:pk>/decide", views.ApprovalDecideView.as_view(), name="approval-decide"),
]
