//! A Socket.IO client that stops reading: it connects over a WebSocket with a small receive
//! buffer, joins a namespace, and from then on only writes. What the daemon sends it piles up
//! in the daemon, which is what the byte budgets are tested against.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The kernel's receive buffer for a stalled client: small, so the daemon's writes block soon.
const RECEIVE_BUFFER: u32 = 4096;

pub struct Stalled {
    ws: WebSocketStream<TcpStream>,
    ns: String,
    next_ack: u64,
}

impl Stalled {
    /// Connects to `ns` of the daemon at `base` (`http://ADDR`) with handshake `auth`, and
    /// reads only what the connection needs: the open packet and the namespace's answer.
    pub async fn connect(base: &str, ns: &str, auth: &Value) -> Stalled {
        let mut ws = Self::open(base).await;
        ws.send(Message::text(format!("40{ns},{auth}")))
            .await
            .unwrap();
        loop {
            let frame = ws.next().await.expect("connected").expect("a frame");
            let text = frame.into_text().unwrap_or_default();
            if text.starts_with(&format!("40{ns},")) {
                break;
            }
            assert!(!text.starts_with("44"), "refused: {text}");
        }
        Stalled {
            ws,
            ns: ns.to_owned(),
            next_ack: 1,
        }
    }

    /// A WebSocket transport past the Engine.IO open packet, joined to no namespace yet.
    pub async fn open(base: &str) -> WebSocketStream<TcpStream> {
        let address = base.trim_start_matches("http://");
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(RECEIVE_BUFFER).unwrap();
        let stream = socket.connect(address.parse().unwrap()).await.unwrap();
        let url = format!("ws://{address}/ws/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
        let open = ws.next().await.expect("an open packet").unwrap();
        assert!(open.into_text().unwrap().starts_with('0'));
        ws
    }

    /// Emits `event` with an acknowledgement id, and reads nothing back.
    pub async fn emit(&mut self, event: &str, data: &Value) {
        let packet = format!("42{},{}[\"{event}\",{data}]", self.ns, self.next_ack);
        self.next_ack += 1;
        self.ws.send(Message::text(packet)).await.unwrap();
    }

    /// Starts reading again and drains the connection until it ends; true if it ends within
    /// `timeout` (the daemon closed it), false if it is still open then.
    pub async fn closed_within(mut self, timeout: std::time::Duration) -> bool {
        let drained = async { while let Some(Ok(_)) = self.ws.next().await {} };
        tokio::time::timeout(timeout, drained).await.is_ok()
    }
}
