//! Health: every server answers the standard health check as SERVING for
//! itself and for the empty name, and NOT_FOUND for another service.

use crate::support::*;
use tonic::Code;

#[tokio::test]
async fn every_server_reports_serving_for_itself_only() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mesh = TestMesh::start().await;
    let identity = toestemming::proto::identity::v1::identity_service_server::SERVICE_NAME;
    let pseudoniem = toestemming::proto::pseudoniem::v1::pseudoniem_service_server::SERVICE_NAME;
    let dossier = toestemming::proto::dossier::v1::dossier_service_server::SERVICE_NAME;
    let servers = [
        (mesh.identity_channel(), identity, dossier),
        (mesh.pseudoniem_channel(), pseudoniem, identity),
        (mesh.dossier_channel(), dossier, pseudoniem),
    ];
    for (channel, own, foreign) in servers {
        let mut health = HealthClient::new(channel);
        for service in ["", own] {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                answer.status(),
                ServingStatus::Serving,
                "{own}: {service:?}"
            );
        }
        let status = health
            .check(HealthCheckRequest {
                service: foreign.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{own} reports on {foreign}");
        // tonic-health's own answer, given the ErrorInfo named after its
        // code on the way out.
        assert_reason(&status, "NOT_FOUND");
    }

    mesh.stop().await;
}
