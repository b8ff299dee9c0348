{{/* Fast scale-up, slow scale-down: every membership change rebalances the delivery group. */}}
{{- define "nudge.delivery.behavior" -}}
{{- $down := .Values.delivery.autoscaling.scaleDown -}}
scaleDown:
  stabilizationWindowSeconds: {{ $down.stabilizationWindowSeconds }}
  selectPolicy: Min
  policies:
    - type: Pods
      value: {{ $down.podsPerPeriod }}
      periodSeconds: {{ $down.periodSeconds }}
scaleUp:
  stabilizationWindowSeconds: 0
  selectPolicy: Max
  policies:
    - type: Percent
      value: 100
      periodSeconds: 60
{{- end -}}
