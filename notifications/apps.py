from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications.subscribers import subscribers_register
        from notifications.telegram import token_mask_filter_install

        token_mask_filter_install()
        subscribers_register()
