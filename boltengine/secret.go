package boltengine

import (
	"crypto/rand"
	"fmt"

	"go.etcd.io/bbolt"
)

// secretKey is the setting that holds the key of client address hashes.
var secretKey = []byte("address-secret")

// AddressSecret returns the key of client address hashes kept in the database: made at the
// first start and kept without end, since every address ban depends on it.
func (db *DB) AddressSecret() ([]byte, error) {
	var secret []byte
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		settings := tx.Bucket(settingsBucket)
		if kept := settings.Get(secretKey); kept != nil {
			secret = append([]byte(nil), kept...) // the database's copy is valid in tx only
			return nil
		}
		secret = []byte(rand.Text())
		return settings.Put(secretKey, secret)
	})
	if err != nil {
		return nil, fmt.Errorf("boltengine: the address secret: %w", err)
	}
	return secret, nil
}
