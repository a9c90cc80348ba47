"""Use cases of Elyune: one class each, ports in the constructor, ``execute`` to run."""

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
from elyune_core.use_cases.reconcile import Reconcile, ReconcileResult
from elyune_core.use_cases.retry_job import (
    RerunAnalysis,
    RerunAnalysisInput,
    RetryJob,
    RetryJobInput,
    RetryJobResult,
)
from elyune_core.use_cases.run_step import PipelinePolicy, RunStep, RunStepInput, RunStepResult
from elyune_core.use_cases.start_processing import (
    StartProcessing,
    StartProcessingInput,
    StartProcessingResult,
)
from elyune_core.use_cases.steps import StepHandlers, StepResult
from elyune_core.use_cases.users import (
    CreateUser,
    CreateUserInput,
    EnsureUser,
    SetPassword,
    SetPasswordInput,
)

__all__ = [
    "CreateUser",
    "CreateUserInput",
    "EnsureUser",
    "GetRecording",
    "GetRecordingInput",
    "ImportRecording",
    "ImportRecordingInput",
    "ImportRecordingResult",
    "ListRecordings",
    "ListRecordingsInput",
    "PipelinePolicy",
    "Reconcile",
    "ReconcileResult",
    "RecordingDetails",
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
]
