// Package storebench is the measurement behind the choice of
// store/filestore: the same store.Store on go.etcd.io/bbolt, a well-kept
// embedded B+tree, measured against filestore's append-only segment log
// per durability policy (publishes per second, bytes written per
// publish), for recovery after a crash with 100,000 publishes queued, and
// for what each adds to a linux/arm binary. It is a module of its own so
// that no user of the client downloads bbolt.
//
// Run the comparison with
//
//	cd storebench && go run ./cmd/storecompare
package storebench
