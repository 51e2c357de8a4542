package websocket

// DialURL exposes the URL mapping to the external tests.
var DialURL = dialURL
