// Package atomicfile writes files so that readers see the old content or
// the new one whole, never a part: a temporary file beside the target,
// fsynced, renamed into place, and the directory fsynced.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data, readable by everyone (0644).
func Write(path string, data []byte) error {
	return WriteMode(path, data, 0o644)
}

// WriteSecret replaces path with data readable by its owner only (0600):
// tokens and keys. The file never exists with wider permissions, not even
// as a temporary.
func WriteSecret(path string, data []byte) error {
	return WriteMode(path, data, 0o600)
}

// WriteMode replaces path with data and gives it perm.
func WriteMode(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	f.Perm = perm
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// WriteFrom replaces path with what fill writes. If fill fails, nothing is
// left behind and path is untouched.
func WriteFrom(path string, fill func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// File is a temporary file beside its target that replaces the target
// only on Commit. Its name contains ".tmp-", so that a directory scan can
// tell a leftover of a crash.
type File struct {
	*os.File
	// Perm is the mode the file gets on Commit; Create sets 0644.
	Perm os.FileMode
	path string
	done bool
}

// Create opens a new temporary file beside path.
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &File{File: tmp, Perm: 0o644, path: path}, nil
}

// Commit fsyncs the file, renames it over the target and fsyncs the
// directory. After an error the temporary file is gone.
func (f *File) Commit() (err error) {
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err = os.Chmod(f.Name(), f.Perm); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err = os.Rename(f.Name(), f.path); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	f.done = true
	return SyncDir(filepath.Dir(f.path))
}

// Abort closes and removes the temporary file, unless committed.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// SyncDir fsyncs a directory, making renames in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
