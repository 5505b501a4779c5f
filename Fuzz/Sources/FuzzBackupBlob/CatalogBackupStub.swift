/// The namespace CatalogBackup+Blob.swift extends. In VishwaClient it is the backup code itself
/// (CatalogBackup.swift, which needs the catalog and the network); here only the name is needed.
enum CatalogBackup {}
