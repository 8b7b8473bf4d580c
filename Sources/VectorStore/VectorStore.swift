public enum VectorStoreModule {}
