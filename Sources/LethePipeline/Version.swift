/// The release of Lethe's executables, recorded in every manifest.
public enum LetheVersion {
    public static let current = "0.1.0"
}
