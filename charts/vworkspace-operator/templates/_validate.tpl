{{/*
Combinations of values the schema cannot judge alone; each fails the render with what to change.
Included once, from deployment.yaml.
*/}}
{{- define "vworkspace-operator.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if and (gt $replicas 1) (not .Values.manager.leaderElect) }}
{{- fail "replicaCount > 1 needs manager.leaderElect=true: without a Lease every replica would reconcile" }}
{{- end }}
{{- $minAvailable := .Values.podDisruptionBudget.minAvailable }}
{{- if and (gt $replicas 1) (kindIs "float64" $minAvailable) (ge (int $minAvailable) $replicas) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below replicaCount (%d), or no node could ever be drained" $minAvailable $replicas) }}
{{- end }}
{{- if and (eq .Values.connectivity.mode "gitops") (or (not .Values.connectivity.gitops.url) (not .Values.manager.clusterId)) }}
{{- fail "connectivity.mode=gitops needs connectivity.gitops.url and manager.clusterId" }}
{{- end }}
{{- if and (or .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled) (not .Values.metrics.enabled) }}
{{- fail "metrics.service and metrics.serviceMonitor need metrics.enabled=true" }}
{{- end }}
{{- if and .Values.metrics.certManager.enabled (or (not .Values.metrics.enabled) (not .Values.metrics.secure) (not .Values.metrics.certManager.issuerRef.name)) }}
{{- fail "metrics.certManager.enabled needs metrics.enabled=true, metrics.secure=true and metrics.certManager.issuerRef.name" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}
{{- fail "metrics.serviceMonitor.enabled needs the monitoring.coreos.com/v1 ServiceMonitor API: install prometheus-operator's CRDs first (helm template: pass --api-versions monitoring.coreos.com/v1)" }}
{{- end }}
{{- end }}
