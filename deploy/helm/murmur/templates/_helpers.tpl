{{/* Names, labels and the list of murmur components the templates loop over. */}}

{{- define "murmur.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "murmur.fullname" -}}
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

{{- define "murmur.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "murmur.labels" -}}
helm.sh/chart: {{ include "murmur.chart" . }}
app.kubernetes.io/name: {{ include "murmur.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: murmur
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "ingestor"). */}}
{{- define "murmur.selectorLabels" -}}
app.kubernetes.io/name: {{ include "murmur.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Full name of one component's objects: (dict "root" $ "component" "ingestor"). */}}
{{- define "murmur.componentName" -}}
{{- printf "%s-%s" (include "murmur.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "murmur.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "murmur.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The three services. valuesKey: their block in values.yaml; database: whether they use Postgres;
autoscale: whether the chart offers an HPA for them.
*/}}
{{- define "murmur.components" -}}
- name: ingestor
  valuesKey: ingestor
  database: true
  autoscale: true
- name: sentiment-scorer
  valuesKey: sentimentScorer
  database: false
  autoscale: true
- name: metrics-aggregator
  valuesKey: metricsAggregator
  database: true
  autoscale: false
{{- end -}}

{{/* Image reference of a murmur binary: (dict "root" $ "name" "ingestor" "tag" ""). */}}
{{- define "murmur.image" -}}
{{- $root := .root -}}
{{- $tag := default (default $root.Chart.AppVersion $root.Values.image.tag) .tag -}}
{{- if $root.Values.image.registry -}}
{{- printf "%s/%s/%s:%s" $root.Values.image.registry $root.Values.image.repository .name $tag -}}
{{- else -}}
{{- printf "%s/%s:%s" $root.Values.image.repository .name $tag -}}
{{- end -}}
{{- end -}}

{{/*
KAFKA_SASL_* (from the SASL Secret) and KAFKA_OPTIONS (kafka.options plus the SASL settings,
the credentials interpolated by Kubernetes from the two variables above). Empty when neither is
configured.
*/}}
{{- define "murmur.kafkaEnv" -}}
{{- $options := list -}}
{{- range .Values.kafka.options }}{{ $options = append $options . }}{{ end -}}
{{- if .Values.kafka.sasl.enabled -}}
{{- $options = append $options (printf "security.protocol=%s" .Values.kafka.sasl.securityProtocol) -}}
{{- $options = append $options (printf "sasl.mechanism=%s" .Values.kafka.sasl.mechanism) -}}
{{- $options = append $options "sasl.username=$(KAFKA_SASL_USERNAME)" -}}
{{- $options = append $options "sasl.password=$(KAFKA_SASL_PASSWORD)" -}}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.existingSecret is required when kafka.sasl.enabled" .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end -}}
{{- if $options }}
- name: KAFKA_OPTIONS
  value: {{ join "," $options | quote }}
{{- end -}}
{{- end -}}

{{/* Environment variables from one `secrets.<entry>` (existingSecret + env map). */}}
{{- define "murmur.secretEnv" -}}
{{- if .existingSecret -}}
{{- $secret := .existingSecret -}}
{{- range $envName, $key := .env }}
- name: {{ $envName }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The container-level security context, shared by services and Jobs. */}}
{{- define "murmur.containerSecurityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/*
The env list of a service container (secrets, Kafka SASL, transformer head, extraEnv):
(dict "root" $ "component" $component "values" $values).
*/}}
{{- define "murmur.containerEnv" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $values := .values -}}
{{- $isIngestor := eq $component.name "ingestor" -}}
{{- $transformer := and (eq $component.name "sentiment-scorer") $values.transformer.enabled -}}
{{- if $component.database }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" $root.Values.database.existingSecret }}
      key: {{ $root.Values.database.urlKey }}
{{- end }}
{{- $secretEnv := list (include "murmur.kafkaEnv" $root) }}
{{- if $isIngestor }}
{{- $secretEnv = concat $secretEnv (list (include "murmur.secretEnv" $root.Values.secrets.reddit) (include "murmur.secretEnv" $root.Values.secrets.telegram) (include "murmur.secretEnv" $root.Values.secrets.x)) }}
{{- end }}
{{- $secretEnv = append $secretEnv (include "murmur.secretEnv" $root.Values.secrets.apiTokens) }}
{{- range $secretEnv }}
{{- if trim . }}
{{- trim . | nindent 0 }}
{{- end }}
{{- end }}
{{- if and $isIngestor $root.Values.secrets.hmacKey.existingSecret }}
- name: MURMUR_HMAC_KEY_FILE
  value: /var/run/secrets/murmur/hmac/{{ $root.Values.secrets.hmacKey.key }}
{{- end }}
{{- if and $transformer $values.transformer.headConfigMap }}
- name: MURMUR_TRANSFORMER_HEAD
  value: /etc/murmur/transformer/{{ $values.transformer.headKey }}
{{- end }}
{{- with $values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}
