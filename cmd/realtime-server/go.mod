module github.com/realtimekit/realtime/cmd/realtime-server

go 1.26.0

replace github.com/realtimekit/realtime => ../..

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/nats-io/nats.go v1.55.0
	github.com/realtimekit/realtime v0.0.0-00010101000000-000000000000
	github.com/realtimekit/realtime/server/natsbroker v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/realtimekit/realtime/server/natsbroker => ../../server/natsbroker
