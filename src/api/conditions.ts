/**
 * Condition types and reasons of the three kinds (spec/api.md §5), byte-identical to the contract,
 * and pure helpers that edit a condition list with metav1 semantics.
 */
import type { Condition, ConditionStatus } from "./meta.js"

// ---------------------------------------------------------------------------------------------
// ApplicationInstance
// ---------------------------------------------------------------------------------------------

export const AppConditionType = {
  Ready: "Ready",
  Reconciling: "Reconciling",
  Degraded: "Degraded",
  Suspended: "Suspended",
  Blocked: "Blocked",
  Deleting: "Deleting"
} as const

export const AppReason = {
  // Ready
  Placeholder: "Placeholder",
  HelmReleaseReady: "HelmReleaseReady",
  HelmReleaseReadyWithWarnings: "HelmReleaseReadyWithWarnings",
  SeaweedReady: "SeaweedReady",
  HelmReleaseFailed: "HelmReleaseFailed",
  ValidationFailed: "ValidationFailed",
  MissingDependencies: "MissingDependencies",
  HelmMigrationRequired: "HelmMigrationRequired",
  HelmMigrationFailed: "HelmMigrationFailed",
  SeaweedFailed: "SeaweedFailed",
  Reconciling: "Reconciling",
  WaitingForS3Endpoint: "WaitingForS3Endpoint",
  ChartUnreachable: "ChartUnreachable",
  WaitingForCertificate: "WaitingForCertificate",
  WaitingForSecret: "WaitingForSecret",
  Installing: "Installing",
  Upgrading: "Upgrading",
  /** Event-only Ready reason for SeaweedFS managed storage (not persisted). */
  ManagedStorageReady: "ManagedStorageReady",
  // Reconciling
  HelmReleaseInstalling: "HelmReleaseInstalling",
  HelmReleaseUpgrading: "HelmReleaseUpgrading",
  ChartSourceSyncing: "ChartSourceSyncing",
  SeaweedReconciling: "SeaweedReconciling",
  Stable: "Stable",
  // Degraded
  HelmReleaseDegraded: "HelmReleaseDegraded",
  EndpointUnreachable: "EndpointUnreachable",
  Drifted: "Drifted",
  Recovered: "Recovered",
  // Suspended
  MaintenanceWindow: "MaintenanceWindow",
  ManuallySuspended: "ManuallySuspended",
  Active: "Active",
  // Blocked
  AwaitingApproval: "AwaitingApproval",
  MissingChartSource: "MissingChartSource",
  PolicyDenied: "PolicyDenied",
  NamespaceNotGated: "NamespaceNotGated",
  ClusterIdMismatch: "ClusterIdMismatch",
  /** The HelmRelease or chart source name is taken by an object this instance does not own. */
  ReleaseConflict: "ReleaseConflict",
  Unblocked: "Unblocked",
  // Deleting
  Uninstalling: "Uninstalling",
  Deleting: "Deleting",
  Blocked: "Blocked",
  WaitingForChildResources: "WaitingForChildResources"
} as const

// ---------------------------------------------------------------------------------------------
// Operation
// ---------------------------------------------------------------------------------------------

export const OperationConditionType = {
  Accepted: "Accepted",
  Running: "Running",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Cancelled: "Cancelled",
  Blocked: "Blocked"
} as const

export const OperationReason = {
  AdmissionPassed: "AdmissionPassed",
  EngineStarted: "EngineStarted",
  EngineNotStarted: "EngineNotStarted",
  EngineCompleted: "EngineCompleted",
  NotYetSucceeded: "NotYetSucceeded",
  EngineFailed: "EngineFailed",
  Timeout: "Timeout",
  PreconditionFailed: "PreconditionFailed",
  UserCancelled: "UserCancelled",
  SupersededByOperation: "SupersededByOperation",
  ValidationFailed: "ValidationFailed",
  TargetNotReady: "TargetNotReady",
  AwaitingApproval: "AwaitingApproval",
  ConflictingOperation: "ConflictingOperation",
  DependencyMissing: "DependencyMissing",
  NamespaceNotGated: "NamespaceNotGated",
  ClusterIdMismatch: "ClusterIdMismatch",
  Unblocked: "Unblocked",
  // Documented precondition and engine-specific reasons (reserved vocabulary).
  TargetNotFound: "TargetNotFound",
  CapabilityMissing: "CapabilityMissing",
  MissingSecret: "MissingSecret",
  OutsideMaintenanceWindow: "OutsideMaintenanceWindow",
  RbacProfileMissing: "RbacProfileMissing",
  TemplateValidated: "TemplateValidated",
  VeleroBackupSucceeded: "VeleroBackupSucceeded",
  VeleroBackupInProgress: "VeleroBackupInProgress",
  WorkflowFailed: "WorkflowFailed",
  WorkflowNodeFailed: "WorkflowNodeFailed",
  HookNotFound: "HookNotFound",
  HelmHookJobSucceeded: "HelmHookJobSucceeded",
  VolumeSnapshotReadyToUse: "VolumeSnapshotReadyToUse"
} as const

export const OperationPhases = ["Pending", "Running", "Succeeded", "Failed", "Cancelled"] as const
export type OperationPhaseName = (typeof OperationPhases)[number]
export const TerminalOperationPhases: ReadonlyArray<OperationPhaseName> = ["Succeeded", "Failed", "Cancelled"]

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

export const ClusterConditionType = {
  Connected: "Connected",
  Disconnected: "Disconnected",
  Authenticated: "Authenticated",
  ControllersHealthy: "ControllersHealthy",
  BufferOverflow: "BufferOverflow"
} as const

export const ClusterReason = {
  // Connected
  RoundTripOK: "RoundTripOK",
  ControlPlaneReachable: "ControlPlaneReachable",
  ControlPlaneUnreachable: "ControlPlaneUnreachable",
  RegistrationPending: "RegistrationPending",
  CredentialMissing: "CredentialMissing",
  // Disconnected
  NoRecentRoundTrip: "NoRecentRoundTrip",
  Connected: "Connected",
  // Authenticated
  CredentialAccepted: "CredentialAccepted",
  RegistrationComplete: "RegistrationComplete",
  ControlPlaneAuthenticationFailed: "ControlPlaneAuthenticationFailed",
  TokenSecretMissing: "TokenSecretMissing",
  RegistrationFailed: "RegistrationFailed",
  RotationFailed: "RotationFailed",
  CredentialRejected: "CredentialRejected",
  CredentialExpired: "CredentialExpired",
  /** Audit event reason (not a persisted condition). */
  CredentialRotated: "CredentialRotated",
  // ControllersHealthy
  AllControllersReady: "AllControllersReady",
  ControllerMissing: "ControllerMissing",
  ControllerDegraded: "ControllerDegraded",
  // BufferOverflow
  EventBufferFull: "EventBufferFull",
  BufferDrained: "BufferDrained"
} as const

export const ClusterPhases = ["Pending", "Registering", "Connected", "Disconnected", "Error", "Terminating"] as const
export type ClusterPhaseName = (typeof ClusterPhases)[number]

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** What a caller decides about a condition; `lastTransitionTime` is the helper's business. */
export interface ConditionUpdate {
  readonly type: string
  readonly status: ConditionStatus
  readonly reason: string
  readonly message: string
  readonly observedGeneration?: number
}

/** RFC 3339 with second precision, UTC: how `metav1.Time` serialises. */
export const formatConditionTime = (now: Date): string => now.toISOString().replace(/\.\d{3}Z$/, "Z")

export const findCondition = (
  conditions: ReadonlyArray<Condition> | undefined,
  type: string
): Condition | undefined => conditions?.find((c) => c.type === type)

/** The condition exists and its status is `True`; a missing condition counts as not true. */
export const isTrue = (conditions: ReadonlyArray<Condition> | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === "True"

/** The condition exists and its status is `False`. */
export const isFalse = (conditions: ReadonlyArray<Condition> | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === "False"

const sameContent = (c: Condition, u: ConditionUpdate): boolean =>
  c.status === u.status &&
  c.reason === u.reason &&
  c.message === u.message &&
  c.observedGeneration === u.observedGeneration

const fromUpdate = (u: ConditionUpdate, lastTransitionTime: string): Condition =>
  u.observedGeneration === undefined
    ? { type: u.type, status: u.status, lastTransitionTime, reason: u.reason, message: u.message }
    : {
        type: u.type,
        status: u.status,
        observedGeneration: u.observedGeneration,
        lastTransitionTime,
        reason: u.reason,
        message: u.message
      }

/**
 * Sets one condition with metav1 semantics (`meta.SetStatusCondition`):
 * - a new type is appended with `lastTransitionTime = now`;
 * - `lastTransitionTime` moves only when `status` changes; a new reason, message or
 *   observedGeneration is written but keeps the time;
 * - when nothing changes, the very same array is returned, so callers can skip the write
 *   (`result === conditions`).
 * The order of the list is the order of first insertion.
 */
export const setCondition = (
  conditions: ReadonlyArray<Condition> | undefined,
  update: ConditionUpdate,
  now: Date
): ReadonlyArray<Condition> => {
  const current = conditions ?? []
  const index = current.findIndex((c) => c.type === update.type)
  if (index === -1) return [...current, fromUpdate(update, formatConditionTime(now))]
  const existing = current[index]!
  if (sameContent(existing, update)) return current
  const time = existing.status === update.status ? existing.lastTransitionTime : formatConditionTime(now)
  const next = [...current]
  next[index] = fromUpdate(update, time)
  return next
}

/** `setCondition` for several updates in order; returns the input array when nothing changed. */
export const setConditions = (
  conditions: ReadonlyArray<Condition> | undefined,
  updates: ReadonlyArray<ConditionUpdate>,
  now: Date
): ReadonlyArray<Condition> => {
  let result = conditions ?? []
  for (const update of updates) result = setCondition(result, update, now)
  return result
}

/** Removes the condition of `type`; returns the input array when there is none. */
export const removeCondition = (
  conditions: ReadonlyArray<Condition> | undefined,
  type: string
): ReadonlyArray<Condition> => {
  const current = conditions ?? []
  return current.some((c) => c.type === type) ? current.filter((c) => c.type !== type) : current
}
