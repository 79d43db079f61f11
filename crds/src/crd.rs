//! The CustomResourceDefinitions of the three Hermes kinds, generated from the API types.
//!
//! One place for `crdgen`, `hermes crds` and the drift test, so the committed YAML in
//! `charts/hermes/crds/` and what the binaries print can never disagree.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{LookupTable, Tag, Trigger};

/// One generated CRD and the file it is committed as.
#[derive(Debug, Clone)]
pub struct GeneratedCrd {
    /// The file name under `charts/hermes/crds/`, e.g. `tags.hermes.io.yaml`.
    pub file_name: String,
    /// The CRD object.
    pub crd: CustomResourceDefinition,
}

/// Why a CRD could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot render CRD {name} as YAML: {source}")]
pub struct CrdRenderError {
    /// The CRD's name.
    pub name: String,
    /// The serializer's error.
    #[source]
    pub source: serde_yaml_ng::Error,
}

/// Status fields that mean something for one kind only, and that kind: the three kinds
/// share [`crate::api::ResourceStatus`] in Rust, but `kubectl explain` and the schema of
/// the others should not offer them.
const KIND_ONLY_STATUS_FIELDS: &[(&str, &str)] =
    &[("rows", "LookupTable"), ("feed", "LookupTable")];

/// The CRDs of Tag, Trigger and LookupTable, in that order.
pub fn crds() -> Vec<GeneratedCrd> {
    [Tag::crd(), Trigger::crd(), LookupTable::crd()]
        .into_iter()
        .map(without_other_kinds_status_fields)
        .map(|crd| GeneratedCrd {
            file_name: format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default()),
            crd,
        })
        .collect()
}

/// `crd` without the status fields of [`KIND_ONLY_STATUS_FIELDS`] that belong to another
/// kind.
fn without_other_kinds_status_fields(
    mut crd: CustomResourceDefinition,
) -> CustomResourceDefinition {
    let kind = crd.spec.names.kind.clone();
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|schema| schema.open_api_v3_schema.as_mut())
            .and_then(|root| root.properties.as_mut())
            .and_then(|properties| properties.get_mut("status"))
            .and_then(|status| status.properties.as_mut());
        if let Some(fields) = status {
            for (field, owner) in KIND_ONLY_STATUS_FIELDS {
                if *owner != kind {
                    fields.remove(*field);
                }
            }
        }
    }
    crd
}

/// One CRD as the YAML committed in the chart (no leading `---`).
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdRenderError> {
    serde_yaml_ng::to_string(crd).map_err(|source| CrdRenderError {
        name: crd.metadata.name.clone().unwrap_or_default(),
        source,
    })
}

/// All CRDs as one multi-document YAML stream, as `hermes crds` prints it.
pub fn all_yaml() -> Result<String, CrdRenderError> {
    let mut out = String::new();
    for generated in crds() {
        out.push_str("---\n");
        out.push_str(&to_yaml(&generated.crd)?);
    }
    Ok(out)
}
