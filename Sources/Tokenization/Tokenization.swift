public enum TokenizationModule {}
