{{/* Names, labels and the pieces every Nudge pod shares. Helpers are namespaced `nudge.`. */}}

{{- define "nudge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nudge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of one component's resources: <fullname>-<component>. Call with (dict "ctx" $ "component" "streams").
The prefix is cut to 44 characters so the StatefulSet name stays within 52 (its pods get a
`controller-revision-hash` label of name + 11 characters, at most 63) and `-headless` still fits.
*/}}
{{- define "nudge.componentName" -}}
{{- printf "%s-%s" (include "nudge.fullname" .ctx | trunc 44 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "nudge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nudge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nudge.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nudge.labels" -}}
helm.sh/chart: {{ include "nudge.chart" .ctx }}
{{ include "nudge.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: nudge
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Empty when there is nothing to add; callers print it with `with`, so no blank line is left. */}}
{{- define "nudge.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "nudge.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "nudge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nudge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nudge.triggersConfigMapName" -}}
{{- default (include "nudge.componentName" (dict "ctx" . "component" "triggers")) .Values.triggers.existingConfigMap -}}
{{- end -}}

{{/* Whether the triggers ConfigMap (the chart's or an existing one) is mounted; each file's own flag follows. */}}
{{- define "nudge.triggersEnabled" -}}
{{- if or .Values.triggers.existingConfigMap .Values.triggers.content .Values.triggers.decisions -}}true{{- end -}}
{{- end -}}

{{- define "nudge.triggersFileEnabled" -}}
{{- if or .Values.triggers.existingConfigMap .Values.triggers.content -}}true{{- end -}}
{{- end -}}

{{- define "nudge.decisionsFileEnabled" -}}
{{- if or .Values.triggers.existingConfigMap .Values.triggers.decisions -}}true{{- end -}}
{{- end -}}

{{/* Kafka settings as NUDGE_* env; the SASL password only ever comes from a Secret. */}}
{{- define "nudge.kafkaEnv" -}}
- name: NUDGE_APP_ID
  value: {{ .Values.config.appId | quote }}
- name: NUDGE_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required" .Values.kafka.bootstrap | quote }}
- name: NUDGE_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
- name: NUDGE_TOPIC_PARTITIONS
  value: {{ .Values.config.topicPartitions | quote }}
- name: NUDGE_TOPIC_PREFIX
  value: {{ .Values.config.topicPrefix | quote }}
{{- if .Values.kafka.sasl.mechanism }}
- name: NUDGE_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: NUDGE_KAFKA_SASL_USERNAME
  value: {{ required "kafka.sasl.username is required with kafka.sasl.mechanism" .Values.kafka.sasl.username | quote }}
- name: NUDGE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.existingSecret is required with kafka.sasl.mechanism" .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.existingSecretPasswordKey }}
{{- end }}
{{- if .Values.kafka.tls.existingSecret }}
- name: NUDGE_KAFKA_SSL_CAFILE
  value: {{ printf "/etc/nudge/kafka-ca/%s" .Values.kafka.tls.caKey | quote }}
{{- end }}
{{- end -}}

{{/* Redis URL: from a Secret when one is named, else the plain URL (which must carry no password). */}}
{{- define "nudge.redisEnv" -}}
- name: NUDGE_REDIS_URL
{{- if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretUrlKey }}
{{- else }}
{{- if contains "@" .Values.redis.url }}
{{- fail "redis.url must not carry credentials: put the whole URL in a Secret and set redis.existingSecret" }}
{{- end }}
  value: {{ required "redis.url or redis.existingSecret is required" .Values.redis.url | quote }}
{{- end }}
{{- end -}}

{{- define "nudge.kafkaCaVolumeMount" -}}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-ca
  mountPath: /etc/nudge/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "nudge.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret }}
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: {{ .Values.kafka.tls.caKey }}
{{- end }}
{{- end -}}

{{/* Pod-level fields shared by every workload. Call with (dict "ctx" $ "values" .Values.<component>). */}}
{{- define "nudge.podSpecCommon" -}}
serviceAccountName: {{ include "nudge.serviceAccountName" .ctx }}
automountServiceAccountToken: false
{{- with .ctx.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with .ctx.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container fields shared by every workload. */}}
{{- define "nudge.containerCommon" -}}
image: {{ include "nudge.image" .ctx }}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
{{- with .ctx.Values.containerSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "nudge.podAnnotations" -}}
{{- $annotations := merge (dict) (.values.podAnnotations | default dict) -}}
{{- if and .triggers (include "nudge.triggersEnabled" .ctx) (not .ctx.Values.triggers.existingConfigMap) -}}
{{- $_ := set $annotations "checksum/triggers" (include (print .ctx.Template.BasePath "/triggers-configmap.yaml") .ctx | sha256sum) -}}
{{- end -}}
{{- with $annotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}
