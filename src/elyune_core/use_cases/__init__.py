"""Use cases of Elyune: one class each, ports in the constructor, ``execute`` to run."""

from elyune_core.use_cases.auth import Authenticate, Login, LoginInput, RefreshTokens
from elyune_core.use_cases.get_recording import (
    GetRecording,
    GetRecordingInput,
    ListRecordings,
    ListRecordingsInput,
    RecordingDetails,
)
from elyune_core.use_cases.import_recording import (
    ImportRecording,
    ImportRecordingInput,
    ImportRecordingResult,
)
from elyune_core.use_cases.manage_recording import (
    CleanupRecordings,
    CleanupResult,
    DeletedRecording,
    DeleteRecording,
    RenameSpeakers,
    RenameSpeakersInput,
    UpdateRecording,
    UpdateRecordingInput,
)
from elyune_core.use_cases.reconcile import Reconcile, ReconcileResult
from elyune_core.use_cases.retry_job import (
    RerunAnalysis,
    RerunAnalysisInput,
    RetryJob,
    RetryJobInput,
    RetryJobResult,
)
from elyune_core.use_cases.run_step import (
    PipelinePolicy,
    RunStep,
    RunStepInput,
    RunStepResult,
    TimeLimit,
)
from elyune_core.use_cases.start_processing import (
    StartProcessing,
    StartProcessingInput,
    StartProcessingResult,
)
from elyune_core.use_cases.steps import StepHandlers, StepResult
from elyune_core.use_cases.uploads import (
    CompleteUpload,
    CompleteUploadInput,
    CompleteUploadResult,
    FindUploadTarget,
    RequestUpload,
    RequestUploadInput,
    RequestUploadResult,
    UploadPolicy,
)
from elyune_core.use_cases.usage import UsageReport, UserUsage
from elyune_core.use_cases.users import (
    CreateUser,
    CreateUserInput,
    EnsureUser,
    SetPassword,
    SetPasswordInput,
)
from elyune_core.use_cases.webhooks import (
    CreateWebhook,
    CreateWebhookInput,
    DeleteWebhook,
    DeliverWebhooks,
    DeliveryLimits,
    DeliveryReport,
    ListDeliveries,
    ListWebhooks,
    QueueWebhookDeliveries,
)

__all__ = [
    "Authenticate",
    "CleanupRecordings",
    "CleanupResult",
    "CompleteUpload",
    "CompleteUploadInput",
    "CompleteUploadResult",
    "CreateUser",
    "CreateUserInput",
    "CreateWebhook",
    "CreateWebhookInput",
    "DeleteRecording",
    "DeleteWebhook",
    "DeletedRecording",
    "DeliverWebhooks",
    "DeliveryLimits",
    "DeliveryReport",
    "EnsureUser",
    "FindUploadTarget",
    "GetRecording",
    "GetRecordingInput",
    "ImportRecording",
    "ImportRecordingInput",
    "ImportRecordingResult",
    "ListDeliveries",
    "ListRecordings",
    "ListRecordingsInput",
    "ListWebhooks",
    "Login",
    "LoginInput",
    "PipelinePolicy",
    "QueueWebhookDeliveries",
    "Reconcile",
    "ReconcileResult",
    "RecordingDetails",
    "RefreshTokens",
    "RenameSpeakers",
    "RenameSpeakersInput",
    "RequestUpload",
    "RequestUploadInput",
    "RequestUploadResult",
    "RerunAnalysis",
    "RerunAnalysisInput",
    "RetryJob",
    "RetryJobInput",
    "RetryJobResult",
    "RunStep",
    "RunStepInput",
    "RunStepResult",
    "SetPassword",
    "SetPasswordInput",
    "StartProcessing",
    "StartProcessingInput",
    "StartProcessingResult",
    "StepHandlers",
    "StepResult",
    "TimeLimit",
    "UpdateRecording",
    "UpdateRecordingInput",
    "UploadPolicy",
    "UsageReport",
    "UserUsage",
]
