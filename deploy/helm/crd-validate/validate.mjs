// Validate custom resources (a JSON array on stdin) against the published KEDA and prometheus-operator types.
// The generated validators check types, required fields, enums and patterns; they allow unknown fields.
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let failed = 0;
for (const doc of JSON.parse(Buffer.concat(chunks).toString())) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const name = `${doc.kind}/${doc.metadata?.name}`;
  const Model = MODELS[key];
  if (!Model) {
    console.log(`ERROR ${name}: no model for ${key}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`ok ${name}`);
  } catch (err) {
    console.log(`ERROR ${name}: ${err.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
