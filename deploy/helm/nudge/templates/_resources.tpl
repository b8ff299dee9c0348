{{/* Resources every component has in the same shape. Call with (dict "ctx" $ "component" NAME "values" VALUES "port" PORTNAME). */}}

{{- define "nudge.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "nudge.componentName" . }}
  namespace: {{ .ctx.Release.Namespace | quote }}
  labels: {{- include "nudge.labels" . | nindent 4 }}
  {{- with include "nudge.annotations" .ctx }}{{ . | nindent 2 }}{{ end }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels: {{- include "nudge.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "nudge.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "nudge.componentName" . }}
  namespace: {{ default .ctx.Release.Namespace .ctx.Values.monitoring.serviceMonitor.namespace | quote }}
  labels:
    {{- include "nudge.labels" . | nindent 4 }}
    {{- with .ctx.Values.monitoring.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with include "nudge.annotations" .ctx }}{{ . | nindent 2 }}{{ end }}
spec:
  jobLabel: app.kubernetes.io/component
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace | quote }}
  selector:
    matchLabels: {{- include "nudge.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ .ctx.Values.monitoring.serviceMonitor.interval }}
      scrapeTimeout: {{ .ctx.Values.monitoring.serviceMonitor.scrapeTimeout }}
{{- end -}}

{{/* Ingress: metrics from metricsNamespaceSelector (any namespace when empty); `public` also opens the port to clients. */}}
{{- define "nudge.networkPolicy" -}}
{{- $np := .ctx.Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "nudge.componentName" . }}
  namespace: {{ .ctx.Release.Namespace | quote }}
  labels: {{- include "nudge.labels" . | nindent 4 }}
  {{- with include "nudge.annotations" .ctx }}{{ . | nindent 2 }}{{ end }}
spec:
  podSelector:
    matchLabels: {{- include "nudge.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - ports:
        - port: {{ .containerPort }}
          protocol: TCP
      {{- if and .public $np.allowExternal }}
      {{- /* no `from`: any source */}}
      {{- else }}
      from:
        {{- if .public }}
        - namespaceSelector: {{- toYaml $np.ingressNamespaceSelector | nindent 12 }}
        {{- else }}
        - namespaceSelector: {{- toYaml $np.metricsNamespaceSelector | nindent 12 }}
        {{- end }}
      {{- end }}
  egress:
    {{- if $np.allowExternalEgress }}
    - {}
    {{- else }}
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
{{- end -}}
