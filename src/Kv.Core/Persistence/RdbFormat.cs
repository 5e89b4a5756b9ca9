namespace Kv.Persistence;

/// <summary>RDB opcodes, object types and string encodings of redis 7.0.15 (rdb.h). RDB_VERSION is 10.</summary>
public static class RdbFormat
{
    /// <summary>RDB version written by redis 7.0 (and by us).</summary>
    public const int Version = 10;
    /// <summary>RDB_OPCODE_FUNCTION2: a function library's source code.</summary>
    public const byte OpFunction2 = 245;
    /// <summary>RDB_OPCODE_FUNCTION: 7.0 release-candidate function format (refused, as 7.0.15 does).</summary>
    public const byte OpFunctionPreGa = 246;
    /// <summary>RDB_OPCODE_MODULE_AUX.</summary>
    public const byte OpModuleAux = 247;
    /// <summary>RDB_OPCODE_IDLE: LRU idle seconds of the next key.</summary>
    public const byte OpIdle = 248;
    /// <summary>RDB_OPCODE_FREQ: LFU counter of the next key.</summary>
    public const byte OpFreq = 249;
    /// <summary>RDB_OPCODE_AUX: key/value metadata.</summary>
    public const byte OpAux = 250;
    /// <summary>RDB_OPCODE_RESIZEDB: key and expire counts of the current database.</summary>
    public const byte OpResizeDb = 251;
    /// <summary>RDB_OPCODE_EXPIRETIME_MS: 8-byte little-endian unix ms of the next key.</summary>
    public const byte OpExpireTimeMs = 252;
    /// <summary>RDB_OPCODE_EXPIRETIME: 4-byte little-endian unix seconds (legacy).</summary>
    public const byte OpExpireTime = 253;
    /// <summary>RDB_OPCODE_SELECTDB.</summary>
    public const byte OpSelectDb = 254;
    /// <summary>RDB_OPCODE_EOF.</summary>
    public const byte OpEof = 255;

    /// <summary>RDB_TYPE_STRING.</summary>
    public const byte TypeString = 0;
    /// <summary>RDB_TYPE_LIST (plain linked list; read only).</summary>
    public const byte TypeList = 1;
    /// <summary>RDB_TYPE_SET.</summary>
    public const byte TypeSet = 2;
    /// <summary>RDB_TYPE_ZSET (scores as text; read only).</summary>
    public const byte TypeZSet = 3;
    /// <summary>RDB_TYPE_HASH.</summary>
    public const byte TypeHash = 4;
    /// <summary>RDB_TYPE_ZSET_2 (binary double scores).</summary>
    public const byte TypeZSet2 = 5;
    /// <summary>RDB_TYPE_MODULE (pre-GA; refused).</summary>
    public const byte TypeModule = 6;
    /// <summary>RDB_TYPE_MODULE_2 (refused: no modules).</summary>
    public const byte TypeModule2 = 7;
    /// <summary>RDB_TYPE_HASH_ZIPMAP (read only).</summary>
    public const byte TypeHashZipmap = 9;
    /// <summary>RDB_TYPE_LIST_ZIPLIST (read only).</summary>
    public const byte TypeListZiplist = 10;
    /// <summary>RDB_TYPE_SET_INTSET.</summary>
    public const byte TypeSetIntset = 11;
    /// <summary>RDB_TYPE_ZSET_ZIPLIST (read only).</summary>
    public const byte TypeZSetZiplist = 12;
    /// <summary>RDB_TYPE_HASH_ZIPLIST (read only).</summary>
    public const byte TypeHashZiplist = 13;
    /// <summary>RDB_TYPE_LIST_QUICKLIST: quicklist of ziplists (read only).</summary>
    public const byte TypeListQuicklist = 14;
    /// <summary>RDB_TYPE_STREAM_LISTPACKS (refused: no streams).</summary>
    public const byte TypeStreamListpacks = 15;
    /// <summary>RDB_TYPE_HASH_LISTPACK.</summary>
    public const byte TypeHashListpack = 16;
    /// <summary>RDB_TYPE_ZSET_LISTPACK.</summary>
    public const byte TypeZSetListpack = 17;
    /// <summary>RDB_TYPE_LIST_QUICKLIST_2.</summary>
    public const byte TypeListQuicklist2 = 18;
    /// <summary>RDB_TYPE_STREAM_LISTPACKS_2 (refused: no streams).</summary>
    public const byte TypeStreamListpacks2 = 19;

    /// <summary>QUICKLIST_NODE_CONTAINER_PLAIN.</summary>
    public const int ContainerPlain = 1;
    /// <summary>QUICKLIST_NODE_CONTAINER_PACKED.</summary>
    public const int ContainerPacked = 2;
}

/// <summary>
/// A malformed, truncated or unsupported RDB stream. <see cref="Offset"/> is the byte position (from the first
/// byte of "REDIS") where the problem was detected.
/// </summary>
public sealed class RdbFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RdbFormatException(string reason, long offset, Exception? inner = null)
        : base($"{reason} at byte offset {offset}", inner)
    {
        Reason = reason;
        Offset = offset;
    }

    /// <summary>What is wrong, without the position.</summary>
    public string Reason { get; }

    /// <summary>Byte offset into the RDB stream.</summary>
    public long Offset { get; }
}

/// <summary>
/// The replication metadata stored in an RDB's aux fields (rdbSaveInfo): repl-stream-db, repl-id, repl-offset.
/// </summary>
/// <param name="StreamDb">Database selected in the replication stream at snapshot time (repl-stream-db).</param>
/// <param name="ReplId">40-hex replication id (repl-id).</param>
/// <param name="ReplOffset">master_repl_offset at the snapshot (repl-offset).</param>
public sealed record RdbReplInfo(int StreamDb, string ReplId, long ReplOffset);
