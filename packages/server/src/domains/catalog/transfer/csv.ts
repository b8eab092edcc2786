/** One CSV record and the (1-based) line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 CSV read piece by piece: quoted fields, doubled quotes, CRLF or LF, newlines inside
 * quotes. `push` gives the records a piece completes; `end` the last one.
 */
export class CsvReader {
  private fields: string[] = [];
  private field = "";
  private quoted = false;
  /** The previous character was a quote inside a quoted field: a doubled quote or the closing one. */
  private quoteSeen = false;
  /** The previous character ended a record with CR: an LF right after belongs to it. */
  private afterCr = false;
  private line = 1;
  private start = 1;
  private first = true;

  push(text: string): CsvRecord[] {
    const records: CsvRecord[] = [];
    let i = 0;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    for (; i < text.length; i++) {
      const char = text[i];
      if (this.afterCr) {
        this.afterCr = false;
        if (char === "\n") continue;
      }
      if (this.quoteSeen) {
        this.quoteSeen = false;
        if (char === '"') {
          this.field += '"';
          continue;
        }
        this.quoted = false;
      }
      if (this.quoted) {
        if (char === '"') this.quoteSeen = true;
        else {
          if (char === "\n") this.line++;
          this.field += char;
        }
      } else if (char === '"' && this.field === "") {
        this.quoted = true;
      } else if (char === ",") {
        this.fields.push(this.field);
        this.field = "";
      } else if (char === "\n" || char === "\r") {
        this.afterCr = char === "\r";
        this.endRecord(records);
        this.line++;
        this.start = this.line;
      } else {
        this.field += char;
      }
    }
    return records;
  }

  end(): CsvRecord[] {
    const records: CsvRecord[] = [];
    if (this.field !== "" || this.fields.length > 0) this.endRecord(records);
    return records;
  }

  private endRecord(records: CsvRecord[]) {
    this.fields.push(this.field);
    if (!(this.fields.length === 1 && this.fields[0] === "")) records.push({ line: this.start, fields: this.fields });
    this.fields = [];
    this.field = "";
  }
}

/** A whole CSV text's records. */
export function parseCsv(text: string): CsvRecord[] {
  const reader = new CsvReader();
  return [...reader.push(text), ...reader.end()];
}

/** A CSV field, quoted when it must be. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
