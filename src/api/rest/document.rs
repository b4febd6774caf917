//! The API's part of the OpenAPI document, read as it is served: what the router's routes say
//! of themselves, checked against the codes, parameters and credentials the handlers use.

use serde_json::Value;

use crate::api::openapi::*;
use crate::envelope::ErrorCode;

/// The API's part of the document as served, as JSON.
fn document() -> Value {
    let mut routes = super::routes();
    without_null_bodies(routes.get_openapi_mut());
    serde_json::to_value(routes.into_openapi()).unwrap()
}

#[test]
fn the_error_code_schema_lists_every_code_by_its_wire_name() {
    let document = document();
    let listed = &document["components"]["schemas"]["ErrorCode"]["enum"];
    let wire: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(listed, &serde_json::json!(wire));
}

#[test]
fn enums_written_by_hand_on_the_wire_list_their_wire_names() {
    use crate::model::StateName;
    use crate::store::webhooks::{DeliveryStatus, WebhookSource};
    let document = document();
    let listed = |name: &str| document["components"]["schemas"][name]["enum"].clone();
    assert_eq!(
        listed("StateName"),
        serde_json::json!(StateName::ALL.map(StateName::as_str))
    );
    let sources = [WebhookSource::Config, WebhookSource::Api];
    assert_eq!(
        listed("WebhookSource"),
        serde_json::json!(sources.map(WebhookSource::as_str))
    );
    let statuses = [
        DeliveryStatus::Pending,
        DeliveryStatus::Retrying,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];
    assert_eq!(
        listed("DeliveryStatus"),
        serde_json::json!(statuses.map(DeliveryStatus::as_str))
    );
}

#[test]
fn the_query_parameters_and_headers_routes_read_are_documented() {
    let document = document();
    let names = |path: &str, method: &str, location: &str| -> Vec<String> {
        document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == location)
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let messages = "/api/v1/devices/{id}/chats/{chatId}/messages";
    assert_eq!(names(messages, "get", "query"), ["before", "limit"]);
    assert_eq!(names(messages, "get", "path"), ["id", "chatId"]);
    assert_eq!(names(messages, "post", "header"), ["Idempotency-Key"]);
    let chats = "/api/v1/devices/{id}/chats";
    assert_eq!(names(chats, "get", "query"), ["limit", "cursor"]);
    let events = "/api/v1/devices/{id}/events";
    assert_eq!(names(events, "get", "query"), ["after", "limit"]);
    let upload = "/api/v1/devices/{id}/media";
    assert_eq!(names(upload, "post", "query"), ["name"]);
}

#[test]
fn operations_have_ids_of_their_own() {
    let document = document();
    let mut ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "{ids:?}");
}

#[test]
fn a_body_a_route_may_go_without_is_not_required_and_never_null() {
    let document = document();
    for path in [
        "/api/v1/devices/{id}/chats/{chatId}/read",
        "/api/v1/devices/{id}/simulator/drop",
    ] {
        let body = &document["paths"][path]["post"]["requestBody"];
        assert_ne!(body["required"], true, "{path}");
        let schema = &body["content"]["application/json"]["schema"];
        assert!(schema["$ref"].is_string(), "{path}: {schema}");
    }
    let create = &document["paths"]["/api/v1/devices"]["post"]["requestBody"];
    assert_eq!(create["required"], true);
}

#[test]
fn each_code_is_listed_under_its_own_status() {
    let document = document();
    let mut seen = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let narrowed = &response["content"]["application/json"]["schema"]["allOf"][1];
                let Some(codes) =
                    narrowed["properties"]["error"]["properties"]["code"]["enum"].as_array()
                else {
                    continue;
                };
                for name in codes {
                    let code = ErrorCode::ALL
                        .into_iter()
                        .find(|code| code.as_str() == name)
                        .unwrap_or_else(|| panic!("{method} {path}: unknown code {name}"));
                    assert_eq!(
                        code.status().as_u16().to_string(),
                        *status,
                        "{method} {path}: {name}"
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 0, "no error answer was read");
}

#[test]
fn every_route_meets_the_codes_any_request_may_meet() {
    let document = document();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for status in ["431", "500", "503"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn a_route_that_takes_credentials_takes_either_kind_with_the_same_scopes() {
    let document = document();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(requirements) = operation["security"].as_array() else {
                continue;
            };
            assert_eq!(requirements.len(), 2, "{method} {path}");
            assert!(requirements[0][API_KEY].is_array(), "{method} {path}");
            assert_eq!(
                requirements[0][API_KEY], requirements[1][BEARER],
                "{method} {path}"
            );
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} answers unauthorized"
            );
        }
    }
}
