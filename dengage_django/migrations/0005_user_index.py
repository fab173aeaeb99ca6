from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dengage_django", "0004_identity_subject"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["user_id", "id"], name="dengage_outbox_user_idx"),
        ),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["status", "id"], name="dengage_outbox_open_idx"),
        ),
    ]
