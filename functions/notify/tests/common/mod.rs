//! What the notify function's integration tests share.

/// An alert as the score function sends it (JSON), for `trans_num`.
pub fn alert(trans_num: &str) -> String {
    serde_json::json!({
        "trans_num": trans_num, "cc_num": 4_000_000_000_001u64, "amt": 912.5,
        "merchant": "fraud_Abbott LLC", "category": "shopping_net",
        "trans_date_trans_time": "2019-03-01 23:14:00", "probability": 0.93,
        "threshold": 0.4, "model_version": "v1"
    })
    .to_string()
}

/// Serves `app` on a free local port; returns its `/hook` URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}
