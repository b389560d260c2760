{{- define "fhw.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fhw.labels" -}}
app.kubernetes.io/name: flink-ha-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "fhw.selector" -}}
app.kubernetes.io/name: flink-ha-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fhw.secretName" -}}
{{- if .Values.tls.certManager.enabled -}}{{ include "fhw.name" . }}-tls{{- else -}}{{ required "tls.secretName is required when tls.certManager.enabled is false" .Values.tls.secretName }}{{- end -}}
{{- end -}}

{{/* Where the API server reaches the webhook, and how it trusts it. */}}
{{- define "fhw.clientConfig" -}}
clientConfig:
  service: {name: {{ include "fhw.name" .root }}, namespace: {{ .root.Release.Namespace }}, path: {{ .path }}, port: 443}
  {{- if not .root.Values.tls.certManager.enabled }}
  caBundle: {{ required "tls.caBundle is required when tls.certManager.enabled is false" .root.Values.tls.caBundle }}
  {{- end }}
{{- end -}}

{{- define "fhw.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: [kube-system, kube-node-lease, kube-public, {{ .Release.Namespace }}]
{{- end -}}
