"""Local Functions host: serves a v2-model Python Functions app, its durable engine and a model
simulator. Never deployed."""
