package db

// OpenServing is Open with connections that serve for lifetime.
var OpenServing = open
