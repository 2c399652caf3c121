package boltengine

import (
	"crypto/rand"
	"fmt"

	"go.etcd.io/bbolt"
)

// AddressSecret returns the key of client address hashes kept in the database: made at the
// first start and kept without end, since every address ban depends on it.
func (db *DB) AddressSecret() ([]byte, error) { return db.secret("address-secret") }

// ChallengeSecret returns the key that signs challenges, kept like the address secret, so
// that the challenges issued before a restart can still be solved after it.
func (db *DB) ChallengeSecret() ([]byte, error) { return db.secret("challenge-secret") }

// secret returns the secret kept in the setting name, making it if it is not there yet.
func (db *DB) secret(name string) ([]byte, error) {
	var secret []byte
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		settings := tx.Bucket(settingsBucket)
		if kept := settings.Get([]byte(name)); kept != nil {
			secret = append([]byte(nil), kept...) // the database's copy is valid in tx only
			return nil
		}
		secret = []byte(rand.Text())
		return settings.Put([]byte(name), secret)
	})
	if err != nil {
		return nil, fmt.Errorf("boltengine: the %s: %w", name, err)
	}
	return secret, nil
}
