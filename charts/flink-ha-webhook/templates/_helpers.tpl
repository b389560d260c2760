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

{{/*
A value for one of serve's duration flags, refused here with the fix
rather than by serve at start: (list name value zeroAllowed).
*/}}
{{- define "fhw.duration" -}}
{{- $name := index . 0 -}}{{- $v := toString (index . 1) -}}{{- $zero := index . 2 -}}
{{- $ok := regexMatch "^([0-9]+(\\.[0-9]+)?(ms|h|m|s))+$" $v -}}
{{- $isZero := regexMatch "^[0.]*((ms|h|m|s)[0.]*)*$" $v -}}
{{- if and $zero (eq $v "0") -}}0
{{- else if not $ok -}}
{{- fail (printf "%s %q: expected a duration such as 30s, 10m or 1h30m%s" $name $v (ternary ", or 0 to turn it off" "" $zero)) -}}
{{- else if and $isZero (not $zero) -}}
{{- fail (printf "%s %q: expected a duration above zero, such as 30s" $name $v) -}}
{{- else -}}{{ $v }}
{{- end -}}
{{- end -}}

