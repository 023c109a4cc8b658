//go:build unix

package store

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// walStamp watches the wal-index header in a SQLite database's -shm file,
// which every connection of every process shares through mmap and which
// SQLite rewrites (mxFrame, salts, checksum) at every commit. Two equal
// stamps, read at two moments, mean that nobody committed in between: a
// value read from the database after the first is still current at the
// second. It is what lets a cached representation be served without a
// statement, and with no risk of serving one that another process's write
// made stale.
type walStamp struct {
	mem []byte // the first page of the -shm file, read-only
}

// walHeaderWords is the size of one copy of the wal-index header (48
// bytes) in 32-bit words; SQLite keeps two copies, back to back, and
// writes the second first.
const walHeaderWords = 12

// stamp is one consistent reading of the wal-index header.
type stamp [walHeaderWords]uint32

// openWALStamp maps the -shm file of the database at path, or returns nil
// (callers then always ask the database) when it cannot.
func openWALStamp(path string) *walStamp {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &walStamp{mem: mem}
}

// read returns the current header, or false while a writer is between
// its two copies (or when there is no mapping).
func (w *walStamp) read() (stamp, bool) {
	var a, b stamp
	if w == nil {
		return a, false
	}
	base := unsafe.Pointer(&w.mem[0])
	for i := range walHeaderWords {
		a[i] = atomic.LoadUint32((*uint32)(unsafe.Add(base, 4*i)))
	}
	for i := range walHeaderWords {
		b[i] = atomic.LoadUint32((*uint32)(unsafe.Add(base, 4*(walHeaderWords+i))))
	}
	// An all-zero header is one SQLite has not initialised yet.
	return a, a == b && a != stamp{}
}

func (w *walStamp) close() {
	if w != nil {
		_ = syscall.Munmap(w.mem)
	}
}
