using Kv.Storage;

namespace Kv.Replication;

/// <summary>Replication info carried by an RDB as aux fields (repl-id, repl-offset, repl-stream-db).</summary>
/// <param name="ReplId">40-hex replication id, or null when absent.</param>
/// <param name="ReplOffset">Replication offset at the snapshot (-1 when absent).</param>
/// <param name="StreamDb">Database selected in the replication stream at the snapshot (-1 when absent).</param>
public sealed record ReplRdbInfo(string? ReplId, long ReplOffset, int StreamDb);

/// <summary>
/// What replication needs from the RDB codec: a point-in-time snapshot taken at an exact replication offset
/// while writes continue, and a loader into fresh databases.
/// </summary>
public interface IReplicationRdb
{
    /// <summary>
    /// Starts writing an RDB (version 10) of the current dataset with the given replication aux fields to
    /// <paramref name="output"/>. Called under the execution lock: the snapshot reflects the dataset at this
    /// moment; later writes do not appear in it. The task completes when the RDB is fully written.
    /// </summary>
    Task WriteSnapshotAsync(Stream output, ReplRdbInfo info);

    /// <summary>
    /// Loads a complete RDB into <paramref name="target"/> (fresh, empty databases; not yet visible to clients).
    /// Throws <see cref="InvalidDataException"/> on a malformed or truncated payload or a CRC mismatch.
    /// </summary>
    ReplRdbInfo Load(Stream input, RedisDb[] target);
}
