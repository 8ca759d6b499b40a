{{/* Chart name, overridable. */}}
{{- define "acr-access-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name: the release name alone when it already contains the chart name. */}}
{{- define "acr-access-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "acr-access-operator.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "acr-access-operator.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "acr-access-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "acr-access-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "acr-access-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "acr-access-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "acr-access-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "acr-access-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "acr-access-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The namespace holding the leader-election Lease: the release namespace unless set. */}}
{{- define "acr-access-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/* operator.serviceTags as a JSON list: one source, or several merged per tag. */}}
{{- define "acr-access-operator.serviceTagSources" -}}
{{- $s := .Values.operator.serviceTags }}
{{- if kindIs "string" $s }}{{ list $s | toJson }}{{ else }}{{ $s | toJson }}{{ end }}
{{- end }}

{{/* The namespaces of configmap:<ns>/<name>[:<key>] feed sources, as a JSON list (none for embedded, file:, arm:). */}}
{{- define "acr-access-operator.feedNamespaces" -}}
{{- $out := list }}
{{- range (include "acr-access-operator.serviceTagSources" . | fromJsonArray) }}
{{- $m := regexFind "^configmap:[a-z0-9-]+/" . }}
{{- if $m }}{{ $out = append $out (trimSuffix "/" (trimPrefix "configmap:" $m)) }}{{ end }}
{{- end }}
{{- $out | uniq | toJson }}
{{- end }}

{{/* Flags of `acr-access run`, one per value; the operator namespace comes from POD_NAMESPACE (downward API). */}}
{{- define "acr-access-operator.args" -}}
{{- $o := .Values.operator }}
{{- range (include "acr-access-operator.serviceTagSources" . | fromJsonArray) }}
- {{ printf "--service-tags=%s" . | quote }}
{{- end }}
- {{ printf "--service-tags-cloud=%s" $o.serviceTagsCloud | quote }}
- {{ printf "--refresh-interval=%s" $o.refreshInterval | quote }}
- {{ printf "--grace-period=%s" $o.gracePeriod | quote }}
- {{ printf "--max-feed-shrink=%v" $o.maxFeedShrink | quote }}
{{- with $o.backends }}
- {{ printf "--backends=%s" (join "," .) | quote }}
{{- end }}
{{- with $o.allowedRegistries }}
- {{ printf "--allowed-registries=%s" (join "," .) | quote }}
{{- end }}
{{- with $o.watchNamespaces }}
- {{ printf "--watch-namespaces=%s" (join "," .) | quote }}
{{- end }}
- {{ printf "--workers=%v" $o.workers | quote }}
- {{ printf "--resync=%s" $o.resync | quote }}
- {{ printf "--dns=%s" $o.dns | quote }}
- {{ printf "--health-address=:%v" .Values.health.port | quote }}
- {{ printf "--log-level=%s" $o.logLevel | quote }}
{{- with .Values.azure.subscriptionId }}
- {{ printf "--azure-subscription=%s" . | quote }}
- {{ printf "--azure-cloud=%s" $.Values.azure.cloud | quote }}
{{- end }}
{{- if .Values.leaderElection.enabled }}
- "--leader-elect"
{{- /* $(POD_NAMESPACE) is expanded by the kubelet, so a kustomize namespace change carries over. */}}
- {{ printf "--leader-election-namespace=%s" (default "$(POD_NAMESPACE)" .Values.leaderElection.namespace) | quote }}
- {{ printf "--leader-election-id=%s" .Values.leaderElection.id | quote }}
{{- else }}
- "--no-leader-elect"
{{- end }}
{{- range $o.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{- /* Rules for the namespaced kinds: cluster-wide by default, per watched namespace with rbac.namespaced. */}}
{{- define "acr-access-operator.namespacedRules" }}
- apiGroups: [acraccess.io]
  resources: [acraccesses]
  verbs: [get, list, watch]
- apiGroups: [acraccess.io]
  resources: [acraccesses/status]
  verbs: [get, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [cilium.io]
  resources: [ciliumnetworkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [projectcalico.org]
  resources: [networkpolicies, networksets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}
