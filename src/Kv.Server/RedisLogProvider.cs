using System.Globalization;
using Kv.Server;
using Microsoft.Extensions.Logging;

namespace Kv.Server.Host;

/// <summary>
/// Logger provider that writes lines in redis-server's shape (server.c serverLogRaw):
/// <c>pid:role dd Mon yyyy HH:mm:ss.fff level message</c> where role is M (master) or S (replica) and level is
/// '.' debug, '-' verbose, '*' notice, '#' warning. Writes to stdout, or appends to the logfile when configured.
/// </summary>
public sealed class RedisLogProvider : ILoggerProvider
{
    private readonly TextWriter _out;
    private readonly object _lock = new();

    /// <summary>Function telling the current role character ('M' or 'S').</summary>
    public Func<char> Role { get; set; } = () => 'M';

    /// <summary>Minimum level written (from loglevel).</summary>
    public LogLevel MinLevel { get; set; } = LogLevel.Information;

    /// <summary>Creates a provider writing to <paramref name="logfile"/> (appending), or stdout when empty.</summary>
    public RedisLogProvider(string logfile)
    {
        _out = string.IsNullOrEmpty(logfile)
            ? Console.Out
            : new StreamWriter(new FileStream(logfile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <summary>Maps a redis loglevel word to a minimum log level.</summary>
    public static LogLevel FromRedisLevel(string level) => level switch
    {
        "debug" => LogLevel.Trace,
        "verbose" => LogLevel.Debug,
        "notice" => LogLevel.Information,
        "warning" => LogLevel.Warning,
        _ => LogLevel.None,
    };

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_out != Console.Out) _out.Dispose();
    }

    private void Write(LogLevel level, string message)
    {
        char lc = level switch
        {
            LogLevel.Trace => '.',
            LogLevel.Debug => '-',
            LogLevel.Information => '*',
            _ => '#',
        };
        var now = DateTime.Now;
        var line = $"{Environment.ProcessId}:{Role()} {now.ToString("dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture)} {lc} {message}";
        lock (_lock) _out.WriteLine(line);
    }

    private sealed class Logger(RedisLogProvider p) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= p.MinLevel && logLevel != LogLevel.None;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var msg = formatter(state, exception);
            if (exception is not null) msg += " (" + exception.GetType().Name + ": " + exception.Message + ")";
            p.Write(logLevel, msg);
        }
    }
}
