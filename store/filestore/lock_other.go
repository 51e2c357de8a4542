//go:build !unix

package filestore

import "os"

// lockDir opens the lock file; on this system two stores on one directory
// are not detected.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}

func unlockDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}
