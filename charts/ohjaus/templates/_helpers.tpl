{{/* Chart name. */}}
{{- define "ohjaus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource. Target resources are "<fullname>-<target>", so the
fullname is kept short enough for a 63-character name with a target suffix.
*/}}
{{- define "ohjaus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart label value. */}}
{{- define "ohjaus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select every pod of this release. */}}
{{- define "ohjaus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ohjaus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "ohjaus.labels" -}}
helm.sh/chart: {{ include "ohjaus.chart" . }}
{{ include "ohjaus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ohjaus
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of one target's resources. Call with (dict "root" $ "name" $targetName). */}}
{{- define "ohjaus.targetFullname" -}}
{{- printf "%s-%s" (include "ohjaus.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one target. Call with (dict "root" $ "name" $targetName). */}}
{{- define "ohjaus.targetSelectorLabels" -}}
{{ include "ohjaus.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Labels of one target. Call with (dict "root" $ "name" $targetName). */}}
{{- define "ohjaus.targetLabels" -}}
{{ include "ohjaus.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Role of a target: "gateway" or "service" (default). Call with the target's values. */}}
{{- define "ohjaus.targetRole" -}}
{{- default "service" .role }}
{{- end }}

{{/* Name of the first enabled target with role gateway ("" if none). */}}
{{- define "ohjaus.gatewayTarget" -}}
{{- $gateway := "" }}
{{- range $name, $t := .Values.targets }}
{{- if and $t.enabled (eq (include "ohjaus.targetRole" $t) "gateway") (not $gateway) }}
{{- $gateway = $name }}
{{- end }}
{{- end }}
{{- $gateway }}
{{- end }}

{{/* Image reference. */}}
{{- define "ohjaus.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "ohjaus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ohjaus.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Default name of the existing Secret. */}}
{{- define "ohjaus.secretName" -}}
{{- default (printf "%s-secrets" (include "ohjaus.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/*
One env entry from a Secret reference.
Call with (dict "root" $ "env" "OHJAUS__X__Y" "ref" .Values.secrets.x "optional" bool).
*/}}
{{- define "ohjaus.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ default (include "ohjaus.secretName" .root) .ref.existingSecret | quote }}
      key: {{ .ref.key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* Environment common to every container of the release. */}}
{{- define "ohjaus.env" -}}
{{- $root := . -}}
{{- $v := .Values -}}
- name: OHJAUS__DATABASE__BACKEND
  value: {{ $v.config.database.backend | quote }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__DATABASE__URL" "ref" $v.secrets.databaseUrl) }}
- name: OHJAUS__BUS__KIND
  value: {{ $v.config.bus.kind | quote }}
- name: OHJAUS__BUS__NATS_URL
  value: {{ $v.config.bus.natsUrl | quote }}
{{- with $v.config.bus.maxAgeDays }}
- name: OHJAUS__BUS__MAX_AGE_DAYS
  value: {{ . | toString | quote }}
{{- end }}
{{- /* Retention runs as the CronJob, never periodically inside a Deployment. */}}
- name: OHJAUS__RETENTION__PERIODIC
  value: "false"
{{- with $v.config.retention }}
{{- range $key, $env := dict "closeAfterDays" "CLOSE_AFTER_DAYS" "closeNoticeDays" "CLOSE_NOTICE_DAYS" "archiveNoticeDays" "ARCHIVE_NOTICE_DAYS" "archivedDays" "ARCHIVED_DAYS" "submissionDays" "SUBMISSION_DAYS" "loginAuditDays" "LOGIN_AUDIT_DAYS" }}
{{- if hasKey $.Values.config.retention $key }}
- name: OHJAUS__RETENTION__{{ $env }}
  value: {{ index $.Values.config.retention $key | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
- name: OHJAUS__GRPC__LISTEN
  value: {{ printf "0.0.0.0:%d" (int $v.ports.grpc) | quote }}
- name: OHJAUS__GATEWAY__LISTEN
  value: {{ printf "0.0.0.0:%d" (int $v.ports.http) | quote }}
- name: OHJAUS__GATEWAY__PUBLIC_BASE_URL
  value: {{ $v.config.gateway.publicBaseUrl | quote }}
{{- with $v.config.gateway.trustedProxies }}
- name: OHJAUS__GATEWAY__TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- range $name, $t := $v.targets }}
{{- if and $t.enabled (eq (include "ohjaus.targetRole" $t) "service") }}
- name: {{ printf "OHJAUS__SERVICES__%s__ADDRESS" ($name | upper | replace "-" "_") }}
  value: {{ printf "http://%s:%d" (include "ohjaus.targetFullname" (dict "root" $root "name" $name)) (int $v.ports.grpc) | quote }}
{{- end }}
{{- end }}
- name: OHJAUS__TELEMETRY__FORMAT
  value: {{ $v.config.telemetry.format | quote }}
{{- with $v.config.telemetry.level }}
- name: OHJAUS__TELEMETRY__LEVEL
  value: {{ . | quote }}
{{- end }}
{{- if and $v.config.demo (hasKey $v.config.demo "seed") }}
- name: OHJAUS__DEMO__SEED
  value: {{ $v.config.demo.seed | toString | quote }}
{{- end }}
- name: OHJAUS__TELEMETRY__METRICS_LISTEN
  value: {{ printf "0.0.0.0:%d" (int $v.ports.metrics) | quote }}
{{- with $v.config.telemetry.otlpEndpoint }}
- name: OHJAUS__TELEMETRY__OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__AUTH__SIGNING_KEY" "ref" $v.secrets.signingKey) }}
{{- if $v.secrets.previousKeys.enabled }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__AUTH__PREVIOUS_KEYS" "ref" $v.secrets.previousKeys "optional" true) }}
{{- end }}
{{- if $v.secrets.operatorToken.enabled }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__AUTH__OPERATOR_TOKEN" "ref" $v.secrets.operatorToken "optional" true) }}
{{- end }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__SECURITY__IDENTITY_CODE_KEY" "ref" $v.secrets.identityCodeKey) }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__SECURITY__CONSENT_LEDGER_KEY" "ref" $v.secrets.consentLedgerKey) }}
{{- if $v.secrets.keyEncryptionKey.enabled }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY" "ref" $v.secrets.keyEncryptionKey) }}
{{- end }}
{{- if $v.secrets.acceptedKeyEncryptionKeys.enabled }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__SECURITY__ACCEPTED_KEY_ENCRYPTION_KEYS" "ref" $v.secrets.acceptedKeyEncryptionKeys "optional" true) }}
{{- end }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__KEYRING__URL" "ref" $v.secrets.keyringUrl) }}
- name: OHJAUS__KEYRING__COMPACT_AFTER_MS
  value: {{ $v.config.keyring.compactAfterMs | int64 | quote }}
- name: OHJAUS__KEYRING__BACKUP_MAX_AGE_DAYS
  value: {{ $v.config.keyring.backupMaxAgeDays | int64 | quote }}
{{- with $v.config.files.s3Bucket }}
- name: OHJAUS__FILES__S3_BUCKET
  value: {{ . | quote }}
{{- end }}
{{- with $v.config.files.s3Endpoint }}
- name: OHJAUS__FILES__S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $v.config.files.s3Region }}
- name: OHJAUS__FILES__S3_REGION
  value: {{ . | quote }}
{{- end }}
- name: OHJAUS__FILES__MAX_BYTES
  value: {{ $v.config.files.maxBytes | int64 | quote }}
- name: OHJAUS__MAIL__FROM
  value: {{ $v.config.mail.from | quote }}
{{- if $v.secrets.smtpUrl.enabled }}
{{ include "ohjaus.secretEnv" (dict "root" $root "env" "OHJAUS__MAIL__SMTP_URL" "ref" $v.secrets.smtpUrl) }}
{{- else if $v.config.mail.smtpUrl }}
- name: OHJAUS__MAIL__SMTP_URL
  value: {{ $v.config.mail.smtpUrl | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by Deployments and the migration Job (serviceAccountName is set by the caller). */}}
{{- define "ohjaus.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* Container-level settings shared by every container (env is rendered by the caller). */}}
{{- define "ohjaus.containerCommon" -}}
image: {{ include "ohjaus.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}

{{/*
A list of NetworkPolicy peers for an egress destination: its cidrs as ipBlocks, then its raw peers.
*/}}
{{- define "ohjaus.egressPeers" -}}
{{- range .cidrs }}
- ipBlock:
    cidr: {{ . | quote }}
{{- end }}
{{- with .peers }}
{{ toYaml . }}
{{- end }}
{{- end }}
