package filestore_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/store/filestore"
)

// An agent keeps its outbox in a file store: what it accepted survives the
// process, and the next process on the store sends it.
func Example() {
	dir, _ := os.MkdirTemp("", "agent")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "outbox")

	// A process that publishes while the server is unreachable, then stops.
	st, err := filestore.Open(path, &filestore.Options{Sync: filestore.SyncEvery})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := realtime.New("http://127.0.0.1:1", &realtime.Options{Store: st})
	for i := range 3 {
		if _, err := c.PublishAsync("readings", fmt.Appendf(nil, "%d", i)); err != nil {
			log.Fatal(err)
		}
	}
	c.Close()
	st.Close()

	// The next process finds them.
	st, err = filestore.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	c, _ = realtime.New("http://127.0.0.1:1", &realtime.Options{Store: st})
	defer c.Close()
	fmt.Println("restored:", c.Stats().Restored)
	// Output: restored: 3
}

// A directory that cannot be opened at all is set aside, and the agent
// starts with an empty store rather than not at all.
func ExampleMoveAside() {
	dir, _ := os.MkdirTemp("", "agent")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "outbox")
	os.WriteFile(path, []byte("a file where the directory should be"), 0o600)

	st, err := filestore.Open(path, nil)
	var oe *filestore.OpenError
	if errors.As(err, &oe) {
		if _, err := filestore.MoveAside(path); err != nil {
			log.Fatal(err)
		}
		st, err = filestore.Open(path, nil)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Println("opened after moving the old one aside")
	// Output: opened after moving the old one aside
}
