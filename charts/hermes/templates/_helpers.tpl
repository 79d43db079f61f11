{{/* Object name prefix: `<release>` when it already contains the chart name, else `<release>-<chart>`. */}}
{{- define "hermes.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hermes.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object; `component` is operator, gateway or empty. */}}
{{- define "hermes.labels" -}}
{{ include "hermes.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hermes
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The labels Deployments select on: stable across upgrades. */}}
{{- define "hermes.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hermes.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "hermes.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "hermes.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hermes.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (printf "%s-gateway" (include "hermes.fullname" .)) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- required "gateway.serviceAccount.name is required when gateway.serviceAccount.create is false" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* `repository:tag` or `repository@digest`; `image` is a component's image values. */}}
{{- define "hermes.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the operator reconciles by name: none in the all-namespaces mode. */}}
{{- define "hermes.operator.namespaces" -}}
{{- if .Values.operator.allNamespaces -}}
{{- if .Values.operator.watchNamespaces -}}
{{- fail "operator.allNamespaces reconciles every namespace: leave operator.watchNamespaces empty" -}}
{{- end -}}
{{- toYaml list -}}
{{- else if .Values.operator.watchNamespaces -}}
{{- toYaml .Values.operator.watchNamespaces -}}
{{- else -}}
{{- toYaml (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* The namespace whose config the gateway serves; the operator must reconcile it. */}}
{{- define "hermes.gateway.scope" -}}
{{- $scope := default .Release.Namespace .Values.gateway.scope -}}
{{- if not (or .Values.operator.allNamespaces (has $scope (include "hermes.operator.namespaces" . | fromYamlArray))) -}}
{{- fail (printf "gateway.scope %q is not reconciled by the operator: add it to operator.watchNamespaces" $scope) -}}
{{- end -}}
{{- $scope -}}
{{- end -}}

{{/* The gateway's grace period, refused when shorter than its shutdown takes: the
delay, draining (at most 10 s), the flush, and 5 s to close the buffer. */}}
{{- define "hermes.gateway.terminationGracePeriodSeconds" -}}
{{- $gateway := .Values.gateway -}}
{{- $grace := int $gateway.terminationGracePeriodSeconds -}}
{{- $needed := add (int $gateway.shutdown.delaySeconds) 10 (int $gateway.shutdown.flushTimeoutSeconds) 5 -}}
{{- if lt $grace (int $needed) -}}
{{- fail (printf "gateway.terminationGracePeriodSeconds is %d, the gateway's shutdown needs %d: shutdown.delaySeconds + 10 (draining) + shutdown.flushTimeoutSeconds + 5" $grace (int $needed)) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}

{{/* Pod-level hardening, the same for both components. */}}
{{- define "hermes.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level hardening, the same for both components. */}}
{{- define "hermes.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pub/Sub credentials: environment (the emulator host or the key file's path). */}}
{{- define "hermes.pubsub.env" -}}
{{- if .Values.pubsub.emulatorHost }}
- name: PUBSUB_EMULATOR_HOST
  value: {{ .Values.pubsub.emulatorHost | quote }}
{{- end }}
{{- if .Values.pubsub.credentialsSecret.name }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /var/run/secrets/google/{{ .Values.pubsub.credentialsSecret.key }}
{{- end }}
{{- end -}}

{{- define "hermes.pubsub.volumeMounts" -}}
{{- if .Values.pubsub.credentialsSecret.name }}
- name: google-credentials
  mountPath: /var/run/secrets/google
  readOnly: true
{{- end }}
{{- end -}}

{{- define "hermes.pubsub.volumes" -}}
{{- if .Values.pubsub.credentialsSecret.name }}
- name: google-credentials
  secret:
    secretName: {{ .Values.pubsub.credentialsSecret.name }}
    items:
      - key: {{ .Values.pubsub.credentialsSecret.key }}
        path: {{ .Values.pubsub.credentialsSecret.key }}
{{- end }}
{{- end -}}

{{/* The pod's own name and namespace, which both binaries read. */}}
{{- define "hermes.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end -}}

{{/* ServiceAccount annotations: the component's own plus Workload Identity's. */}}
{{- define "hermes.serviceAccountAnnotations" -}}
{{- $annotations := deepCopy .annotations -}}
{{- if .root.Values.pubsub.workloadIdentityServiceAccount -}}
{{- $_ := set $annotations "iam.gke.io/gcp-service-account" .root.Values.pubsub.workloadIdentityServiceAccount -}}
{{- end -}}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Spread replicas over nodes (required when possible) and zones (preferred). */}}
{{- define "hermes.topologySpread" -}}
{{- if .constraints -}}
{{- toYaml .constraints -}}
{{- else -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "hermes.selectorLabels" . | nindent 6 }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "hermes.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/*
The gateway's workload kind: a StatefulSet when its buffer has a claim per pod
(gateway.buffer.persistence), a Deployment otherwise. The HPA and PDB follow it.
*/}}
{{- define "hermes.gateway.workloadKind" -}}
{{- if .Values.gateway.buffer.persistence.enabled }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}
