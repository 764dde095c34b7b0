//! Azure Resource Manager resource ids, which the sink's Azure Monitor
//! paths and `check --resource-id` both read.

/// True for a resource id,
/// `/subscriptions/{id}/resourceGroups/{group}/providers/{namespace}/{type}/{name}`
/// (types may nest: `{type}/{name}/{child type}/{child name}`), compared
/// without regard to case as Azure compares them.
pub(crate) fn is_resource_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    let segments: Vec<&str> = lower.split('/').collect();
    matches!(
        segments.as_slice(),
        ["", "subscriptions", subscription, "resourcegroups", group, "providers", namespace, rest @ ..]
            if !subscription.is_empty()
                && !group.is_empty()
                && !namespace.is_empty()
                && rest.len() >= 2
                && rest.len() % 2 == 0
                && rest.iter().all(|s| !s.is_empty() && *s != "providers")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_and_what_is_not_one() {
        assert!(is_resource_id(
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs"
        ));
        assert!(is_resource_id(
            "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default"
        ));
        for not in [
            "",
            "/subscriptions/0000",
            "/subscriptions/0000/resourceGroups/rg",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices",
            "subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs/providers/Microsoft.Insights",
            "/subscriptions//resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs",
        ] {
            assert!(!is_resource_id(not), "{not:?}");
        }
    }
}
