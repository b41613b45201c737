from django.urls import path

from backtest import views

urlpatterns = [
    path("run", views.RunView.as_view(), name="backtest-run"),
    path("sweep", views.SweepView.as_view(), name="backtest-sweep"),
    path("results/<int:pk>", views.ResultView.as_view(), name="backtest-result"),
    path("runs", views.RunListView.as_view(), name="backtest-runs"),
    path("strategies", views.StrategyListView.as_view(), name="backtest-strategies"),
    path("results/<int:pk>/robustness", views.RobustnessView.as_view(), name="backtest-robustness"),
    path("sweeps/<uuid:sweep_id>/sensitivity", views.SensitivityView.as_view(), name="backtest-sensitivity"),
    path("walk-forward", views.WalkForwardView.as_view(), name="backtest-walk-forward"),
    path("walk-forward/<int:pk>", views.WalkForwardResultView.as_view(), name="backtest-walk-forward-result"),
]
