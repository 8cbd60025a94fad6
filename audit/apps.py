from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Protokoll"

    def ready(self):
        from django.contrib.auth import signals

        from audit import signals as receivers

        signals.user_logged_in.connect(receivers.on_logged_in, dispatch_uid="audit_login")
        signals.user_logged_out.connect(receivers.on_logged_out, dispatch_uid="audit_logout")
        signals.user_login_failed.connect(
            receivers.on_login_failed, dispatch_uid="audit_login_failed"
        )
