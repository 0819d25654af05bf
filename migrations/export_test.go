package migrations

// NewFrom exposes newMigrator to the tests, which apply a subset of the migrations.
var NewFrom = newMigrator
