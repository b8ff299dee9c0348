"""A local FCM-compatible endpoint that the real firebase-admin client talks to in dev, CI and demos."""
