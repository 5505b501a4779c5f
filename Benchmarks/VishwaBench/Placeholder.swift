public enum VishwaBenchPlaceholder {}
