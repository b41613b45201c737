from django.urls import path

from journal import apis

urlpatterns = [
    path("list", apis.JournalListApi.as_view(), name="journal-list"),
    path("create", apis.JournalCreateApi.as_view(), name="journal-create"),
    path("weekly-report", apis.WeeklyReportApi.as_view(), name="journal-weekly-report"),
    path("tags", apis.TagsApi.as_view(), name="journal-tags"),
    path("tags/<int:tag_id>", apis.TagDetailApi.as_view(), name="journal-tag-detail"),
    path("<int:pk>", apis.JournalDetailApi.as_view(), name="journal-detail"),
    path("<int:pk>/ai-review", apis.JournalAiReviewApi.as_view(), name="journal-ai-review"),
]
