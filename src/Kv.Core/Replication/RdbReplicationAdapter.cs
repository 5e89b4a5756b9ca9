using Kv.Persistence;
using Kv.Server;
using Kv.Storage;

namespace Kv.Replication;

/// <summary>
/// <see cref="IReplicationRdb"/> over the persistence component: the fork-less point-in-time snapshot
/// (<see cref="Kv.Persistence.Persistence.StartSnapshot"/>, started under the execution lock so it is exact at the
/// replication offset) and the codec's <see cref="RdbReader"/> filling fresh databases. Without a persistence
/// component the snapshot is serialized synchronously under the lock.
/// </summary>
public sealed class RdbReplicationAdapter(KvServer server) : IReplicationRdb
{
    /// <inheritdoc/>
    public async Task WriteSnapshotAsync(Stream output, ReplRdbInfo info)
    {
        var repl = info.ReplId is null ? null : new RdbReplInfo(Math.Max(0, info.StreamDb), info.ReplId, info.ReplOffset);
        var persistence = server.Extensions.OfType<Kv.Persistence.Persistence>().FirstOrDefault();
        if (persistence is not null)
        {
            var snap = persistence.StartSnapshot(output, repl);
            await snap.Completion.ConfigureAwait(false);
            return;
        }
        WriteSync(output, repl);
    }

    private void WriteSync(Stream output, RdbReplInfo? repl)
    {
        var w = new RdbWriter(output, new RdbWriterOptions
        {
            Compression = server.Config.GetBool("rdbcompression"),
            Checksum = server.Config.GetBool("rdbchecksum"),
        });
        w.WriteMagic();
        w.WriteDefaultAux(KvServer.UnixMs() / 1000, KvServer.UsedMemory(), repl);
        foreach (var db in server.Databases)
        {
            if (db.Count == 0) continue;
            w.WriteSelectDb(db.Id);
            w.WriteResizeDb(db.Count, db.Expires.Count);
            foreach (var (key, value) in db.Main.Entries())
            {
                w.WriteKeyValue(key, value, db.GetExpire(key));
                if (w.Pending > 256 * 1024) w.Flush();
            }
        }
        w.WriteEnd();
        w.Flush();
    }

    /// <inheritdoc/>
    public ReplRdbInfo Load(Stream input, RedisDb[] target)
    {
        var r = new RdbReader(input) { Databases = target.Length };
        try
        {
            // A replica keeps expired keys: the master's DELs remove them.
            var loaded = RdbLoad.ReadAll(r, target.Length, dropExpired: false, nowMs: 0);
            for (int i = 0; i < target.Length; i++)
                if (loaded.Mains[i] is not null) target[i].Replace(loaded.Mains[i]!, loaded.Expires[i] ?? new KvDict<long>());
        }
        catch (RdbFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("truncated RDB: " + e.Message, e);
        }
        var ri = r.ReplInfo;
        return ri is null ? new ReplRdbInfo(null, -1, -1) : new ReplRdbInfo(ri.ReplId, ri.ReplOffset, ri.StreamDb);
    }
}
